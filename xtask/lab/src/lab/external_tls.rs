//! The external hosts' certificates: a lab root of its own (`target/lab/<lab>/external-ca/`,
//! made at the first external host; not the mesh's CA, as an outside partner's would not be)
//! signs one certificate per external host for its name. Every external host's containers get
//! `LAB_TLS_CERT` and `LAB_TLS_KEY` (what `sample-app serve --tls` serves) and `LAB_TLS_ROOT`;
//! tests hand the root to a DestinationRule (`caCertificates`, or a Secret's `ca.crt`).

use super::paths::LabDir;
use super::Lab;
use anyhow::{Context, Result};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use std::path::{Path, PathBuf};

/// `external-ca/` in the lab's directory.
fn dir(lab_dir: &LabDir) -> PathBuf {
    lab_dir.root().join("external-ca")
}

/// The agents' `--tls-file-dir`: the root's directory, so a DestinationRule's
/// `caCertificates` may name [`root_file`] (the agent reads certificate files there only).
pub fn agent_args(lab_dir: &LabDir) -> Vec<String> {
    let dir = std::path::absolute(dir(lab_dir)).unwrap_or_else(|_| dir(lab_dir));
    vec!["--tls-file-dir".into(), dir.display().to_string()]
}

/// The root certificate (PEM) the external hosts' certificates chain to.
pub fn root_file(lab_dir: &LabDir) -> PathBuf {
    dir(lab_dir).join("root-cert.pem")
}

/// The certificate and key files of external host `host`.
pub fn host_files(lab_dir: &LabDir, host: &str) -> (PathBuf, PathBuf) {
    let hosts = dir(lab_dir).join("hosts");
    (
        hosts.join(format!("{host}.crt")),
        hosts.join(format!("{host}.key")),
    )
}

/// Issues `host`'s certificate (the root is made first when there is none).
pub fn issue(lab_dir: &LabDir, host: &str) -> Result<()> {
    let (root, root_key) = root(lab_dir)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec![host.to_string()])?;
    params.distinguished_name.push(DnType::CommonName, host);
    let cert = params.signed_by(&key, &root, &root_key)?;
    let (cert_file, key_file) = host_files(lab_dir, host);
    std::fs::create_dir_all(cert_file.parent().expect("in hosts/"))?;
    write(&cert_file, &cert.pem())?;
    write(&key_file, &key.serialize_pem())
}

/// The root and its key: read back, or made and written.
fn root(lab_dir: &LabDir) -> Result<(rcgen::Certificate, KeyPair)> {
    let (cert_file, key_file) = (root_file(lab_dir), dir(lab_dir).join("root-key.pem"));
    let params = if cert_file.is_file() {
        let key = KeyPair::from_pem(&std::fs::read_to_string(&key_file)?)?;
        let params = CertificateParams::from_ca_cert_pem(&std::fs::read_to_string(&cert_file)?)
            .with_context(|| format!("reading {}", cert_file.display()))?;
        return Ok((params.self_signed(&key)?, key));
    } else {
        let mut params = CertificateParams::default();
        let name = "lab external hosts root";
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
    };
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    std::fs::create_dir_all(dir(lab_dir))?;
    write(&key_file, &key.serialize_pem())?;
    write(&cert_file, &cert.pem())?;
    Ok((cert, key))
}

fn write(path: &Path, pem: &str) -> Result<()> {
    std::fs::write(path, pem).with_context(|| format!("writing {}", path.display()))
}

/// The variables an external host's containers get.
pub fn env(lab_dir: &LabDir, host: &str) -> Vec<(&'static str, PathBuf)> {
    let (cert, key) = host_files(lab_dir, host);
    vec![
        ("LAB_TLS_CERT", cert),
        ("LAB_TLS_KEY", key),
        ("LAB_TLS_ROOT", root_file(lab_dir)),
    ]
}

impl Lab {
    /// The root (PEM) of the external hosts' certificates.
    pub fn external_ca_root(&self) -> Result<String> {
        let path = root_file(&self.dir);
        std::fs::read_to_string(&path).with_context(|| {
            format!(
                "lab {} has no external host yet ({})",
                self.state.name,
                path.display()
            )
        })
    }

    /// The file of that root, readable by the agents (a DestinationRule's `caCertificates`).
    pub fn external_ca_root_file(&self) -> PathBuf {
        root_file(&self.dir)
    }
}
