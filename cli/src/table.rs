//! Go's `text/tabwriter` as docker configures it (`minwidth 10, tabwidth 1,
//! padding 3, padchar ' ', flags 0`): tab-terminated cells are padded to
//! their column block's width; the last cell of a line is left alone.

/// docker's settings.
pub const MIN_WIDTH: usize = 10;
pub const PADDING: usize = 3;

/// Align `text` (lines of `\t`-separated cells) like Go's tabwriter.
pub fn tabwrite(text: &str) -> String {
    tabwrite_with(text, MIN_WIDTH, PADDING)
}

pub fn tabwrite_with(text: &str, min_width: usize, padding: usize) -> String {
    let ends_with_newline = text.ends_with('\n');
    let body = text.strip_suffix('\n').unwrap_or(text);
    let lines: Vec<Vec<&str>> = body.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut writer = Writer {
        lines: &lines,
        widths: Vec::new(),
        min_width,
        padding,
        out: String::with_capacity(text.len() * 2),
    };
    writer.format(0, lines.len());
    if !ends_with_newline {
        writer.out.pop();
    }
    writer.out
}

struct Writer<'a> {
    lines: &'a [Vec<&'a str>],
    widths: Vec<usize>,
    min_width: usize,
    padding: usize,
    out: String,
}

fn width_of(cell: &str) -> usize {
    cell.chars().count()
}

impl Writer<'_> {
    /// Go's recursive column-block algorithm: a column block is a run of
    /// consecutive lines that all have a tab-terminated cell in the column.
    fn format(&mut self, mut line0: usize, line1: usize) {
        let column = self.widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= self.lines[this].len() {
                this += 1;
                continue;
            }
            self.write_lines(line0, this);
            line0 = this;
            let mut width = self.min_width;
            while this < line1 && column + 1 < self.lines[this].len() {
                width = width.max(width_of(self.lines[this][column]) + self.padding);
                this += 1;
            }
            self.widths.push(width);
            self.format(line0, this);
            self.widths.pop();
            line0 = this;
        }
        self.write_lines(line0, line1);
    }

    fn write_lines(&mut self, line0: usize, line1: usize) {
        for line in &self.lines[line0..line1] {
            for (j, cell) in line.iter().enumerate() {
                self.out.push_str(cell);
                if j + 1 < line.len() && j < self.widths.len() {
                    let pad = self.widths[j].saturating_sub(width_of(cell));
                    self.out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            self.out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_ps_header_and_rows() {
        let text = "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n\
                    0123456789ab\tbusybox\t\"sleep 1000\"\t5 seconds ago\tUp 4 seconds\t\tsleeper\n";
        let expected = "CONTAINER ID   IMAGE     COMMAND        CREATED         STATUS         PORTS     NAMES\n\
                        0123456789ab   busybox   \"sleep 1000\"   5 seconds ago   Up 4 seconds             sleeper\n";
        assert_eq!(tabwrite(text), expected);
    }

    #[test]
    fn empty_table_is_just_the_header() {
        assert_eq!(
            tabwrite("CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n"),
            "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
        );
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let text = "A\tB\n\"sh -c 'while tru…\"\tx\n";
        let out = tabwrite(text);
        let lines: Vec<&str> = out.lines().collect();
        let cell = "\"sh -c 'while tru…\"";
        assert_eq!(
            lines[0],
            format!("A{}B", " ".repeat(cell.chars().count() + 3 - 1))
        );
        assert!(lines[1].ends_with("…\"   x"));
    }

    #[test]
    fn column_blocks_break_on_shorter_lines() {
        // Go aligns each block of consecutive lines separately.
        let text = "a\tb\nlonger-cell\tc\nno tabs here\nx\ty\n";
        let out = tabwrite_with(text, 0, 1);
        assert_eq!(out, "a           b\nlonger-cell c\nno tabs here\nx y\n");
    }

    #[test]
    fn without_trailing_newline() {
        assert_eq!(tabwrite_with("a\tb", 0, 1), "a b");
        assert_eq!(tabwrite(""), "");
    }
}
