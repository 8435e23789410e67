//! keepalived.conf importer (stub).
use super::{Config, ConfigError, Warning};
use std::path::Path;
/// Reads a keepalived.conf.
pub fn load_keepalived(path: &Path) -> Result<(Config, Vec<Warning>), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_keepalived(&text, &path.display().to_string())
}
/// Parses a keepalived.conf.
pub fn parse_keepalived(_text: &str, _origin: &str) -> Result<(Config, Vec<Warning>), ConfigError> {
    Ok((Config { instances: vec![] }, vec![]))
}
