//! Adapters between the daemon and the image store: what the image
//! endpoints need from it goes through this file, so a contract change
//! touches one place. (Containers are reached through container/.)

pub use crate::image::{Image, ImageError, Removed, Store as ImageStore};

/// `sha256:<hex>` id of an image.
pub fn image_id(image: &Image) -> String {
    image.id.clone()
}

pub fn image_config(image: &Image) -> &crate::image::config::ImageConfig {
    &image.config
}

pub fn image_tags(image: &Image) -> Vec<String> {
    image.repo_tags.clone()
}

pub fn image_size(image: &Image) -> i64 {
    image.size as i64
}

pub fn image_is_not_found(e: &ImageError) -> bool {
    e.status_code() == 404
}

/// The HTTP status Docker uses for an image store error.
pub fn image_status(e: &ImageError) -> hyper::StatusCode {
    hyper::StatusCode::from_u16(e.status_code()).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR)
}

/// Untagged / Deleted entries of `DELETE /images/{name}`.
pub fn removed_item(r: &Removed) -> bollard::models::ImageDeleteResponseItem {
    match r {
        Removed::Untagged(t) => bollard::models::ImageDeleteResponseItem {
            untagged: Some(t.clone()),
            deleted: None,
        },
        Removed::Deleted(id) => bollard::models::ImageDeleteResponseItem {
            untagged: None,
            deleted: Some(id.clone()),
        },
    }
}
