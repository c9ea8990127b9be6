//! Where the signing key comes from: Istio's plug-in CA files (Secret `cacerts` mounted as a
//! directory), or a self-signed root created once in a directory and reused from then on.

use std::path::Path;

use anyhow::{bail, Context as _, Result};

use super::signer::Signer;

/// The plug-in CA files, as istiod reads them.
const PLUG_IN: [&str; 4] = [
    "ca-cert.pem",
    "ca-key.pem",
    "cert-chain.pem",
    "root-cert.pem",
];

/// Loads Istio's plug-in CA from `dir`: `ca-cert.pem` signs with `ca-key.pem`; `cert-chain.pem`
/// is `ca-cert.pem` then its issuers; `root-cert.pem` is the root.
pub fn plug_in(dir: &Path) -> Result<Signer> {
    let [cert, key, chain, root] = PLUG_IN.map(|name| {
        let path = dir.join(name);
        std::fs::read_to_string(&path)
            .with_context(|| format!("plug-in CA file {}", path.display()))
    });
    let (cert, key, chain, root) = (cert?, key?, chain?, root?);
    let chain = pem_blocks(&chain);
    // cert-chain.pem starts with ca-cert.pem itself (Istio's convention); the rest are issuers.
    let intermediates: Vec<String> = chain
        .into_iter()
        .filter(|c| c.trim() != cert.trim() && c.trim() != root.trim())
        .collect();
    Signer::new(&cert, &key, &intermediates, &root)
        .with_context(|| format!("plug-in CA in {}", dir.display()))
}

/// The self-signed root kept in `dir` (`root-cert.pem`, `ca-key.pem`), created on first use.
pub fn self_signed(dir: &Path, trust_domain: &str) -> Result<Signer> {
    let cert_path = dir.join("root-cert.pem");
    let key_path = dir.join("ca-key.pem");
    match (cert_path.exists(), key_path.exists()) {
        (true, true) => {}
        (false, false) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the CA directory {}", dir.display()))?;
            let (cert, key) = Signer::create_root(trust_domain)?;
            write_private(&key_path, &key)?;
            write_private(&cert_path, &cert)?;
            tracing::info!(dir = %dir.display(), "created a self-signed root CA");
        }
        _ => bail!(
            "{} holds only one of root-cert.pem and ca-key.pem: restore the other or remove both",
            dir.display()
        ),
    }
    let cert = std::fs::read_to_string(&cert_path)?;
    let key = std::fs::read_to_string(&key_path)?;
    Signer::new(&cert, &key, &[], &cert).with_context(|| format!("root CA in {}", dir.display()))
}

/// Writes `text` readable by its owner only, whole or not at all (a temporary file renamed).
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("writing {}", temporary.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The PEM blocks of `text`, each `-----BEGIN ...` through `-----END ...-----`.
pub fn pem_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.starts_with("-----BEGIN") {
            current.clear();
        }
        current.push_str(line);
        current.push('\n');
        if line.starts_with("-----END") {
            blocks.push(current.trim().to_owned());
        }
    }
    blocks
}
