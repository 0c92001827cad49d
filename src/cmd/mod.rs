//! One module per subcommand; each turns parsed arguments into calls on the core modules.

pub mod completions;
pub mod doctor;
pub mod down;
pub mod exec;
pub mod history;
pub mod init;
pub mod logs;
pub mod man;
pub mod orphans;
pub mod share;
pub mod snapshot;
pub mod status;
pub mod trust;
pub mod up;
pub mod url;
pub mod watch;
