//! Certificates made at start (rcgen, ECDSA P-256): a throwaway CA and a leaf for
//! `localhost`, `127.0.0.1` and `::1` that it signs, and on request a leaf that
//! misbehaves on purpose ([`BadCert`]), so that a client's failure paths can be
//! tested. Clients are meant to trust the CA ([`Generated::ca_pem`]).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

use super::options::BadCert;

/// The names every generated leaf is for (unless it is [`BadCert::WrongHost`]).
pub const LEAF_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// What start generated.
pub(crate) struct Generated {
    /// The CA that clients should trust, as PEM.
    pub(crate) ca_pem: String,
    /// The leaf (alone: clients have the CA).
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, name);
    p.distinguished_name
        .push(DnType::OrganizationName, "pierhead");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::days(1);
    p.not_after = now + Duration::days(365);
    p
}

/// A throwaway CA and a leaf for `bad` (a valid one when None).
pub(crate) fn generate(bad: Option<BadCert>) -> Result<Generated, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let ca_p = ca_params("pierhead throwaway test CA");
    let ca_cert = ca_p.self_signed(&ca_key)?;
    let ca = Issuer::new(ca_p, ca_key);

    let names: Vec<String> = match bad {
        Some(BadCert::WrongHost) => vec!["wrong-host.invalid".to_owned()],
        _ => LEAF_NAMES.iter().map(|s| (*s).to_owned()).collect(),
    };
    let mut leaf = CertificateParams::new(names)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "pierhead test server");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = OffsetDateTime::now_utc();
    (leaf.not_before, leaf.not_after) = match bad {
        Some(BadCert::Expired) => (now - Duration::days(30), now - Duration::days(1)),
        Some(BadCert::NotYetValid) => (now + Duration::days(1), now + Duration::days(30)),
        _ => (now - Duration::days(1), now + Duration::days(30)),
    };
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = match bad {
        Some(BadCert::SelfSigned) => leaf.self_signed(&leaf_key)?,
        Some(BadCert::UntrustedCa) => {
            // Signed by another CA, which nobody is given.
            let other_key = KeyPair::generate()?;
            let other = Issuer::new(ca_params("pierhead untrusted CA"), other_key);
            leaf.signed_by(&leaf_key, &other)?
        }
        _ => leaf.signed_by(&leaf_key, &ca)?,
    };
    Ok(Generated {
        ca_pem: ca_cert.pem(),
        chain: vec![leaf_cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    })
}
