//! Names: Docker's validation rule and an `adjective_surname` generator with
//! whale's own word lists (notable scientists and engineers).

use rand::Rng;

const ADJECTIVES: &[&str] = &[
    "agile",
    "amazing",
    "amused",
    "ardent",
    "artful",
    "awake",
    "balanced",
    "bold",
    "brave",
    "breezy",
    "bright",
    "brisk",
    "busy",
    "calm",
    "candid",
    "careful",
    "charming",
    "cheerful",
    "clever",
    "cool",
    "cosmic",
    "crafty",
    "curious",
    "daring",
    "dazzling",
    "deft",
    "devoted",
    "diligent",
    "dreamy",
    "eager",
    "earnest",
    "elated",
    "elegant",
    "epic",
    "exact",
    "fearless",
    "fervent",
    "festive",
    "fluent",
    "focused",
    "fond",
    "frank",
    "friendly",
    "gallant",
    "gentle",
    "gifted",
    "glad",
    "gleeful",
    "graceful",
    "great",
    "happy",
    "hardy",
    "hearty",
    "helpful",
    "honest",
    "hopeful",
    "humble",
    "jolly",
    "jovial",
    "keen",
    "kind",
    "lively",
    "loyal",
    "lucid",
    "lucky",
    "merry",
    "mighty",
    "modest",
    "musing",
    "nimble",
    "noble",
    "optimistic",
    "patient",
    "peaceful",
    "playful",
    "plucky",
    "polite",
    "proud",
    "quick",
    "quiet",
    "radiant",
    "rapid",
    "relaxed",
    "resolute",
    "serene",
    "sharp",
    "sincere",
    "smart",
    "snappy",
    "spirited",
    "splendid",
    "steady",
    "stoic",
    "sunny",
    "swift",
    "tender",
    "tidy",
    "trusty",
    "upbeat",
    "valiant",
    "vibrant",
    "vivid",
    "warm",
    "wise",
    "witty",
    "zealous",
    "zen",
];

const SURNAMES: &[&str] = &[
    "agnesi",
    "alhazen",
    "allen",
    "ampere",
    "archimedes",
    "aryabhata",
    "avogadro",
    "babbage",
    "backus",
    "banach",
    "bardeen",
    "bartik",
    "bell",
    "bernoulli",
    "bhabha",
    "blackwell",
    "bohr",
    "boltzmann",
    "boole",
    "borg",
    "bose",
    "brahe",
    "brattain",
    "burnell",
    "cantor",
    "carnot",
    "carson",
    "cauchy",
    "cerf",
    "chandrasekhar",
    "chebyshev",
    "clarke",
    "conway",
    "copernicus",
    "corbato",
    "coulomb",
    "curie",
    "darwin",
    "descartes",
    "dijkstra",
    "dirac",
    "doppler",
    "easley",
    "edison",
    "einstein",
    "elion",
    "engelbart",
    "erdos",
    "euclid",
    "euler",
    "faraday",
    "fermat",
    "fermi",
    "feynman",
    "fibonacci",
    "fourier",
    "franklin",
    "galileo",
    "galois",
    "gauss",
    "germain",
    "gibbs",
    "godel",
    "goodall",
    "haber",
    "hamilton",
    "hawking",
    "heisenberg",
    "hertz",
    "hilbert",
    "hodgkin",
    "hooke",
    "hopper",
    "hoyle",
    "hubble",
    "huygens",
    "hypatia",
    "jackson",
    "jacobi",
    "jemison",
    "johnson",
    "joliot",
    "joule",
    "kapitsa",
    "kare",
    "kelvin",
    "kepler",
    "khayyam",
    "knuth",
    "kolmogorov",
    "kovalevskaya",
    "lagrange",
    "lamarr",
    "lamport",
    "laplace",
    "lavoisier",
    "leavitt",
    "leibniz",
    "lemaitre",
    "liskov",
    "lovelace",
    "lumiere",
    "maxwell",
    "mayer",
    "mcclintock",
    "meitner",
    "mendel",
    "mendeleev",
    "minsky",
    "mirzakhani",
    "morse",
    "newton",
    "nobel",
    "noether",
    "ohm",
    "pascal",
    "pasteur",
    "pauli",
    "pauling",
    "perlman",
    "planck",
    "poincare",
    "raman",
    "ramanujan",
    "ritchie",
    "rontgen",
    "rutherford",
    "sagan",
    "salk",
    "sammet",
    "shannon",
    "shockley",
    "snyder",
    "somerville",
    "stallman",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "volta",
    "wiles",
    "wilson",
    "wing",
    "wozniak",
    "wright",
    "wu",
    "yalow",
    "yonath",
    "hamming",
    "kernighan",
    "mccarthy",
    "neumann",
];

/// Docker's rule for container names: `^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`.
pub fn is_valid_name(name: &str) -> bool {
    let name = name.strip_prefix('/').unwrap_or(name);
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if !first.is_ascii_alphanumeric() {
        return false;
    }
    let rest = chars.as_str();
    !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A random `adjective_surname`; after `retry` collisions a digit is appended,
/// as Docker does, so the space never runs out.
pub fn random_name(retry: u32) -> String {
    let mut rng = rand::thread_rng();
    loop {
        let adjective = ADJECTIVES[rng.gen_range(0..ADJECTIVES.len())];
        let surname = SURNAMES[rng.gen_range(0..SURNAMES.len())];
        // Steve Wozniak is not boring; Docker's own easter egg, kept.
        if adjective == "boring" && surname == "wozniak" {
            continue;
        }
        let mut name = format!("{adjective}_{surname}");
        if retry > 0 {
            name.push_str(&rng.gen_range(0..10).to_string());
        }
        return name;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn validation_follows_docker() {
        for ok in ["ab", "/web", "a.b-c_d", "0x", "Test01"] {
            assert!(is_valid_name(ok), "{ok} should be valid");
        }
        for bad in [
            "", "/", "a", "/a", "_ab", "-ab", ".ab", "a b", "a/b", "ab!", "é1",
        ] {
            assert!(!is_valid_name(bad), "{bad} should be invalid");
        }
    }

    #[test]
    fn generated_names_are_valid_and_varied() {
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let n = random_name(0);
            assert!(is_valid_name(&n), "{n}");
            let (adj, sur) = n.split_once('_').unwrap();
            assert!(ADJECTIVES.contains(&adj) && SURNAMES.contains(&sur), "{n}");
            seen.insert(n);
        }
        assert!(
            seen.len() > 150,
            "only {} distinct names in 200",
            seen.len()
        );
        let retried = random_name(1);
        assert!(retried.chars().last().unwrap().is_ascii_digit());
    }

    #[test]
    fn word_lists_are_big_enough_and_unique() {
        assert!(ADJECTIVES.len() >= 100);
        assert!(SURNAMES.len() >= 150);
        let a: HashSet<_> = ADJECTIVES.iter().collect();
        let s: HashSet<_> = SURNAMES.iter().collect();
        assert_eq!(a.len(), ADJECTIVES.len());
        assert_eq!(s.len(), SURNAMES.len());
    }
}
