//! `pybundle info --sbom`: a CycloneDX 1.5 JSON software bill of materials for a built bundle.
//! Input: an opened [`Bundle`] (its manifest and file); output: the SBOM document. One component
//! per bundled distribution (name, version, license from its metadata, the manifest's sha256,
//! `pkg:pypi/<name>@<version>` purl); the bundle itself is the metadata component. Everything
//! comes from the manifest, so the SBOM of a reproducible bundle is reproducible too.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::bundle::Bundle;
use crate::layout::Manifest;
use crate::name::normalize_name;

/// The CycloneDX specification version written.
pub const SPEC_VERSION: &str = "1.5";

/// Prints the CycloneDX SBOM of the bundle at `path`.
pub fn print(path: &Path) -> Result<()> {
    let bundle = Bundle::open(path)?;
    let mut file = fs_err::File::open(path)?;
    let (sha, _) = crate::fsutil::sha256_reader(&mut file)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let doc = sbom(&bundle, &sha);
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &doc).context("cannot print the SBOM")?;
    writeln!(out)?;
    Ok(())
}

/// Returns the SBOM of `bundle`, whose file has the sha256 `file_sha256`.
pub fn sbom(bundle: &Bundle, file_sha256: &str) -> Value {
    let m = &bundle.manifest;
    let file_name = bundle
        .path
        .file_name()
        .map_or_else(|| "bundle".into(), |n| n.to_string_lossy().into_owned());
    let components: Vec<Value> = m.distributions.iter().map(component).collect();
    let mut metadata = json!({
        "tools": {
            "components": [{
                "type": "application",
                "name": "pybundle",
                "version": m.pybundle_version,
            }]
        },
        "component": {
            "type": "application",
            "bom-ref": format!("bundle:{}", m.build_id),
            "name": file_name,
            "version": m.build_id,
            "description": format!("pybundle zipapp, entry point {}", m.entry.describe()),
            "hashes": [{"alg": "SHA-256", "content": file_sha256}],
        },
        "properties": target_properties(m),
    });
    if let Some(at) = &m.built_at {
        metadata["timestamp"] = json!(at);
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": serial_number(&m.build_id),
        "version": 1,
        "metadata": metadata,
        "components": components,
    })
}

/// Returns the component of one distribution.
fn component(d: &crate::layout::DistInfo) -> Value {
    let purl = purl(&d.name, &d.version);
    let mut c = json!({
        "type": "library",
        "bom-ref": purl,
        "name": d.name,
        "version": d.version,
        "purl": purl,
    });
    if is_sha256(&d.sha256) {
        c["hashes"] = json!([{"alg": "SHA-256", "content": d.sha256}]);
    }
    if let Some(license) = d
        .license
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        c["licenses"] = json!([{"license": {"name": license}}]);
    }
    if let Some(summary) = d.summary.as_deref().filter(|s| !s.is_empty()) {
        c["description"] = json!(summary);
    }
    c
}

/// Returns the target interpreter as `pybundle:python:*` properties.
fn target_properties(m: &Manifest) -> Value {
    let p = &m.python;
    json!([
        {"name": "pybundle:python:implementation", "value": p.implementation},
        {"name": "pybundle:python:version", "value": p.version},
        {"name": "pybundle:python:platform", "value": p.platform},
    ])
}

/// Returns the package URL of a PyPI distribution: the name normalised (lowercase, runs of
/// `-_.` as `-`), the version percent-encoded where purl requires it.
pub fn purl(name: &str, version: &str) -> String {
    let version: String = version
        .chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() || ".-_~".contains(c) => c.to_string(),
            c => {
                let mut buf = [0u8; 4];
                c.encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect();
    format!("pkg:pypi/{}@{version}", normalize_name(name))
}

/// Returns true if and only if `s` is 64 lowercase hex digits (what CycloneDX accepts).
fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Returns a `urn:uuid:` derived from the build id (a version-8 UUID: the same bundle always has
/// the same serial number).
fn serial_number(build_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(build_id.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::fsutil::hex(&b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls() {
        assert_eq!(
            purl("Foo_Bar.baz", "1.0+local.1"),
            "pkg:pypi/foo-bar-baz@1.0%2Blocal.1"
        );
        assert_eq!(purl("MarkupSafe", "2.1.5"), "pkg:pypi/markupsafe@2.1.5");
    }

    #[test]
    fn serial_is_a_uuid() {
        let s = serial_number("abc");
        let re = regex::Regex::new(
            "^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
        )
        .unwrap();
        assert!(re.is_match(&s), "{s}");
        assert_eq!(s, serial_number("abc"));
    }
}
