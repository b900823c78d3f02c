//! Writing to stdout without panicking when the reader goes away (`cargo fastkernels list | head`).

use std::io::{ErrorKind, Write};

/// Print `text` to stdout; a closed pipe ends the program quietly, as for other CLI tools.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// `emit` with a newline.
pub fn line(text: impl AsRef<str>) {
    emit(&format!("{}\n", text.as_ref()));
}
