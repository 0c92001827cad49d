//! A screen that redraws itself, as `top` does: the terminal's alternate screen, keys read one
//! at a time without echo, and the terminal as it was once the screen is dropped (also on an
//! error or Ctrl-C).

use std::io::{IsTerminal, Write};

use tokio::io::AsyncReadExt;

/// Whether a live screen can be shown: stdout and stdin are both terminals.
pub(super) fn possible() -> bool {
    std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

pub struct Screen {
    /// The terminal's settings before, to restore; `None` when they could not be read.
    saved: Option<libc::termios>,
    stdin: tokio::io::Stdin,
}

impl Screen {
    pub(super) fn enter() -> Screen {
        // SAFETY: tcgetattr and tcsetattr only read and write the termios we pass; fd 0 is stdin.
        let saved = unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            (libc::tcgetattr(0, &mut saved) == 0).then(|| {
                let mut keys = saved;
                // Keys one at a time, not echoed; Ctrl-C still signals.
                keys.c_lflag &= !(libc::ICANON | libc::ECHO);
                keys.c_cc[libc::VMIN] = 1;
                keys.c_cc[libc::VTIME] = 0;
                libc::tcsetattr(0, libc::TCSANOW, &keys);
                saved
            })
        };
        // The alternate screen, cursor hidden.
        print!("\x1b[?1049h\x1b[?25l");
        let _ = std::io::stdout().flush();
        Screen { saved, stdin: tokio::io::stdin() }
    }

    /// Replaces what the screen shows with `text`.
    pub fn show(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\x1b[H\x1b[2J{}", text.replace('\n', "\r\n"));
        let _ = out.flush();
    }

    /// The next key pressed; `None` at the end of input.
    pub async fn key(&mut self) -> Option<u8> {
        let mut key = [0u8; 1];
        match self.stdin.read(&mut key).await {
            Ok(1) => Some(key[0]),
            _ => None,
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        print!("\x1b[?25h\x1b[?1049l");
        let _ = std::io::stdout().flush();
        if let Some(saved) = &self.saved {
            // SAFETY: restores the settings read in `enter` on the same descriptor.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, saved) };
        }
    }
}
