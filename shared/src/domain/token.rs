//! The link keys and the link token: `v1.<kid>.<body>`, where body is base64url (no padding) of the intervention id
//! (16 random bytes), the expiry (Unix ms, big-endian) and an HMAC-SHA256 over purpose, version, key id,
//! id and expiry. A named reviewer's link is `v2.<kid>.<body>`: the same, with the reviewer's index (one
//! byte) after the expiry, covered by the MAC too. A one-click link (one per option of a form whose one
//! required single choice is the decision) is `v3.<kid>.<body>` for the single link and `v4.<kid>.<body>` for
//! a reviewer's: the `v1`/`v2` body with the option's index (one byte) after the expiry and reviewer, covered
//! by the MAC too. The version is under the MAC, so no token verifies as another version's.
//! Verification is constant-time and needs no database read.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::domain::id::{hex, InterventionId, ID_BYTES};
use crate::domain::time::Timestamp;

type HmacSha256 = Hmac<Sha256>;

const VERSION: &str = "v1";
/// The version of a named reviewer's link.
const REVIEWER_VERSION: &str = "v2";
/// The version of the single link's one-click link (it carries an option's index).
const OPTION_VERSION: &str = "v3";
/// The version of a named reviewer's one-click link.
const REVIEWER_OPTION_VERSION: &str = "v4";
/// Binds the MAC to this use, so a MAC made for anything else never verifies as a link.
const PURPOSE: &[u8] = b"human-intervention/link";
const BODY_BYTES: usize = ID_BYTES + 8 + 32;
/// A reviewer's link body: the reviewer's index after the expiry.
const REVIEWER_BODY_BYTES: usize = ID_BYTES + 8 + 1 + 32;
/// A one-click link body: the option's index after the expiry (and the reviewer's index).
const OPTION_BODY_BYTES: usize = ID_BYTES + 8 + 1 + 32;
const REVIEWER_OPTION_BODY_BYTES: usize = ID_BYTES + 8 + 2 + 32;
/// The base64url length of each body.
const BODY_CHARS: usize = 75;
const REVIEWER_BODY_CHARS: usize = 76;
const OPTION_BODY_CHARS: usize = 76;
const REVIEWER_OPTION_BODY_CHARS: usize = 78;
/// Longest key id.
pub const MAX_KID_CHARS: usize = 16;
/// Shortest signing secret, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest string that can be a token; anything longer is refused before any decoding.
pub const MAX_TOKEN_CHARS: usize = 2 + 1 + MAX_KID_CHARS + 1 + REVIEWER_OPTION_BODY_CHARS;

/// The version a link of this shape is signed as: the reviewer's index and the option's each change it.
fn version(reviewer: Option<u8>, option: Option<u8>) -> &'static str {
    match (reviewer, option) {
        (None, None) => VERSION,
        (Some(_), None) => REVIEWER_VERSION,
        (None, Some(_)) => OPTION_VERSION,
        (Some(_), Some(_)) => REVIEWER_OPTION_VERSION,
    }
}

/// One signing secret with its key id.
#[derive(Clone)]
pub struct LinkKey {
    kid: String,
    /// HMAC keyed with the secret once: each link's MAC starts from a copy (two compressions fewer).
    keyed: HmacSha256,
}

impl fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LinkKey({}, <secret>)", self.kid)
    }
}

impl LinkKey {
    /// A key with id `kid` (1–16 of `a-z 0-9`) and a secret of at least 32 bytes.
    pub fn new(kid: &str, secret: Vec<u8>) -> Result<Self, String> {
        if kid.is_empty()
            || kid.len() > MAX_KID_CHARS
            || !kid.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(format!("key id {kid:?} must be 1 to {MAX_KID_CHARS} characters of a-z 0-9"));
        }
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!("the secret of key {kid:?} has {} bytes; at least {MIN_SECRET_BYTES}", secret.len()));
        }
        // new_from_slice accepts any key length for HMAC.
        let keyed = match HmacSha256::new_from_slice(&secret) {
            Ok(mac) => mac,
            Err(_) => unreachable_hmac(),
        };
        Ok(Self { kid: kid.to_owned(), keyed })
    }

    /// A key with a fresh random secret (the local server's default when none is configured).
    pub fn random(kid: &str) -> Result<Self, String> {
        let mut secret = vec![0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| e.to_string())?;
        Self::new(kid, secret)
    }

    fn mac(&self, id: &InterventionId, expires_at: Timestamp, reviewer: Option<u8>, option: Option<u8>) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(PURPOSE);
        mac.update(&[0]);
        mac.update(version(reviewer, option).as_bytes());
        mac.update(&[0]);
        mac.update(self.kid.as_bytes());
        mac.update(&[0]);
        mac.update(id.as_bytes());
        mac.update(&expires_at.millis().to_be_bytes());
        if let Some(index) = reviewer {
            mac.update(&[index]);
        }
        if let Some(index) = option {
            mac.update(&[index]);
        }
        mac
    }
}

fn unreachable_hmac() -> ! {
    // HMAC takes keys of every length; this branch cannot be reached.
    std::process::abort()
}

/// The keys links are signed and verified with: one signs, every one verifies (rotation).
#[derive(Debug, Clone)]
pub struct LinkKeys {
    signing: LinkKey,
    verifying: Vec<LinkKey>,
}

impl LinkKeys {
    /// Signs with `signing`; verifies with it and every key in `also_verifying`.
    pub fn new(signing: LinkKey, also_verifying: Vec<LinkKey>) -> Result<Self, String> {
        let mut verifying = vec![signing.clone()];
        for key in also_verifying {
            if verifying.iter().any(|k| k.kid == key.kid) {
                return Err(format!("key id {:?} is given twice", key.kid));
            }
            verifying.push(key);
        }
        Ok(Self { signing, verifying })
    }

    /// Parses `kid:base64secret[,kid:base64secret…]`: the first signs, all verify.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for (i, part) in spec.split(',').map(str::trim).filter(|p| !p.is_empty()).enumerate() {
            let (kid, secret) = part.split_once(':').ok_or_else(|| format!("key {i} is not `kid:base64secret`"))?;
            let secret = base64::engine::general_purpose::STANDARD
                .decode(secret.trim())
                .or_else(|_| URL_SAFE_NO_PAD.decode(secret.trim()))
                .map_err(|_| format!("the secret of key {kid:?} is not base64"))?;
            keys.push(LinkKey::new(kid.trim(), secret)?);
        }
        let mut keys = keys.into_iter();
        let signing = keys.next().ok_or("no keys are given")?;
        Self::new(signing, keys.collect())
    }

    /// The id of the key new links are signed with.
    pub fn signing_kid(&self) -> &str {
        &self.signing.kid
    }

    /// The token for a link to intervention `id`, valid until `expires_at`.
    pub fn sign(&self, id: &InterventionId, expires_at: Timestamp) -> String {
        self.sign_link(id, expires_at, None, None)
    }

    /// The token for the link of the reviewer at `index` (of at most 256) to intervention `id`.
    pub fn sign_for_reviewer(&self, id: &InterventionId, expires_at: Timestamp, index: u8) -> String {
        self.sign_link(id, expires_at, Some(index), None)
    }

    /// The one-click link for the option at `option` (an index into the one-click field's options) of the
    /// single link (`reviewer` `None`, a `v3` token) or of the reviewer at that index (a `v4` token).
    pub fn sign_option(&self, id: &InterventionId, expires_at: Timestamp, reviewer: Option<u8>, option: u8) -> String {
        self.sign_link(id, expires_at, reviewer, Some(option))
    }

    fn sign_link(
        &self,
        id: &InterventionId,
        expires_at: Timestamp,
        reviewer: Option<u8>,
        option: Option<u8>,
    ) -> String {
        let tag = self.signing.mac(id, expires_at, reviewer, option).finalize().into_bytes();
        let mut body = Vec::with_capacity(REVIEWER_OPTION_BODY_BYTES);
        body.extend_from_slice(id.as_bytes());
        body.extend_from_slice(&expires_at.millis().to_be_bytes());
        body.extend(reviewer);
        body.extend(option);
        body.extend_from_slice(&tag);
        format!("{}.{}.{}", version(reviewer, option), self.signing.kid, URL_SAFE_NO_PAD.encode(body))
    }

    /// The intervention, expiry, reviewer and option a token was signed for; `None` for anything not signed
    /// by one of our keys in exactly the canonical spelling.
    pub fn verify(&self, token: &str) -> Option<VerifiedLink> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let mut parts = token.split('.');
        let (Some(version), Some(kid), Some(body), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        // (body characters, body bytes, whether it names a reviewer, whether it names an option)
        let (chars, len, has_reviewer, has_option) = match version {
            VERSION => (BODY_CHARS, BODY_BYTES, false, false),
            REVIEWER_VERSION => (REVIEWER_BODY_CHARS, REVIEWER_BODY_BYTES, true, false),
            OPTION_VERSION => (OPTION_BODY_CHARS, OPTION_BODY_BYTES, false, true),
            REVIEWER_OPTION_VERSION => (REVIEWER_OPTION_BODY_CHARS, REVIEWER_OPTION_BODY_BYTES, true, true),
            _ => return None,
        };
        // The kid only selects among configured keys by equality; it is never used as a path or algorithm.
        let key = self.verifying.iter().find(|k| k.kid == kid)?;
        if body.len() != chars {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
        if bytes.len() != len || URL_SAFE_NO_PAD.encode(&bytes) != body {
            return None;
        }
        let id = InterventionId::from_bytes(bytes[..ID_BYTES].try_into().ok()?);
        let expires_at = Timestamp::from_millis(i64::from_be_bytes(bytes[ID_BYTES..ID_BYTES + 8].try_into().ok()?));
        let reviewer = has_reviewer.then(|| bytes[ID_BYTES + 8]);
        let option_at = ID_BYTES + 8 + usize::from(has_reviewer);
        let option = has_option.then(|| bytes[option_at]);
        let tag_at = option_at + usize::from(has_option);
        key.mac(&id, expires_at, reviewer, option).verify_slice(&bytes[tag_at..]).ok()?;
        Some(VerifiedLink { intervention_id: id, expires_at, reviewer, option })
    }
}

/// What a verified token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedLink {
    /// The intervention the link is for.
    pub intervention_id: InterventionId,
    /// When the link stops working.
    pub expires_at: Timestamp,
    /// The index of the reviewer whose link it is (a `v2` or `v4` link); `None` for the one link (`v1`, `v3`).
    pub reviewer: Option<u8>,
    /// A one-click link's option (`v3`, `v4`): its index into the one-click field's options; `None` for a
    /// link to the form.
    pub option: Option<u8>,
}

/// The first 8 hex digits of the token's SHA-256: how logs refer to a token without holding it.
pub fn token_digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes())[..4])
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn keys(kid: &str, fill: u8) -> LinkKeys {
        LinkKeys::new(LinkKey::new(kid, vec![fill; 32]).unwrap(), vec![]).unwrap()
    }

    fn sample() -> (LinkKeys, InterventionId, Timestamp, String) {
        let keys = keys("k1", 7);
        let id = InterventionId::random().unwrap();
        let at = Timestamp::from_millis(1_795_608_000_000);
        let token = keys.sign(&id, at);
        (keys, id, at, token)
    }

    #[test]
    fn a_signed_token_verifies_to_its_id_and_expiry() {
        let (keys, id, at, token) = sample();
        assert!(token.starts_with("v1.k1."));
        assert_eq!(
            keys.verify(&token),
            Some(VerifiedLink { intervention_id: id, expires_at: at, reviewer: None, option: None })
        );
    }

    #[test]
    fn a_reviewer_link_carries_its_index_under_the_mac() {
        let (keys, id, at, v1) = sample();
        let token = keys.sign_for_reviewer(&id, at, 3);
        assert!(token.starts_with("v2.k1."), "{token}");
        assert!(token.len() <= MAX_TOKEN_CHARS);
        assert_eq!(
            keys.verify(&token),
            Some(VerifiedLink { intervention_id: id, expires_at: at, reviewer: Some(3), option: None })
        );
        // Another index in the body, or the v1 body relabelled v2 (and back), never verifies.
        let mut bytes = URL_SAFE_NO_PAD.decode(token.rsplit('.').next().unwrap()).unwrap();
        for index in [0u8, 2, 4, 255] {
            bytes[ID_BYTES + 8] = index;
            assert_eq!(keys.verify(&format!("v2.k1.{}", URL_SAFE_NO_PAD.encode(&bytes))), None, "{index}");
        }
        assert_eq!(keys.verify(&v1.replacen("v1.", "v2.", 1)), None);
        assert_eq!(keys.verify(&token.replacen("v2.", "v1.", 1)), None);
        assert_eq!(keys.verify(&token.replacen("v2.", "v3.", 1)), None);
        for len in 0..token.len() {
            assert_eq!(keys.verify(&token[..len]), None, "{len}");
        }
        let bytes = token.as_bytes();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.to_vec();
                flipped[i] ^= 1 << bit;
                if let Ok(text) = String::from_utf8(flipped) {
                    assert_eq!(keys.verify(&text), None, "byte {i} bit {bit}");
                }
            }
        }
    }

    #[test]
    fn a_one_click_link_carries_its_option_under_the_mac() {
        let (keys, id, at, v1) = sample();
        let v2 = keys.sign_for_reviewer(&id, at, 3);
        for (reviewer, own, plain) in [(None, "v3", &v1), (Some(3), "v4", &v2)] {
            let token = keys.sign_option(&id, at, reviewer, 1);
            assert!(token.starts_with(&format!("{own}.k1.")), "{token}");
            assert!(token.len() <= MAX_TOKEN_CHARS);
            let expected = VerifiedLink { intervention_id: id, expires_at: at, reviewer, option: Some(1) };
            assert_eq!(keys.verify(&token), Some(expected));
            // Another option (or reviewer) in the body never verifies.
            let bytes = URL_SAFE_NO_PAD.decode(token.rsplit('.').next().unwrap()).unwrap();
            let option_at = ID_BYTES + 8 + usize::from(reviewer.is_some());
            for index in [0u8, 2, 255] {
                let mut changed = bytes.clone();
                changed[option_at] = index;
                assert_eq!(keys.verify(&format!("{own}.k1.{}", URL_SAFE_NO_PAD.encode(&changed))), None, "{index}");
            }
            // Relabelled as any other version, or with the option byte dropped (a plain link's body under
            // the one-click link's MAC), it never verifies as a plain link.
            for other in ["v1", "v2", "v3", "v4"].into_iter().filter(|v| *v != own) {
                assert_eq!(keys.verify(&token.replacen(own, other, 1)), None, "{own} as {other}");
            }
            let mut dropped = bytes.clone();
            dropped.remove(option_at);
            let plain_version = &plain[..2];
            assert_eq!(keys.verify(&format!("{plain_version}.k1.{}", URL_SAFE_NO_PAD.encode(&dropped))), None);
            // And a plain link never verifies as a one-click link: relabelled, or with an option byte added.
            assert_eq!(keys.verify(&plain.replacen(plain_version, own, 1)), None);
            let mut added = URL_SAFE_NO_PAD.decode(plain.rsplit('.').next().unwrap()).unwrap();
            added.insert(option_at, 1);
            assert_eq!(keys.verify(&format!("{own}.k1.{}", URL_SAFE_NO_PAD.encode(&added))), None);
            for len in 0..token.len() {
                assert_eq!(keys.verify(&token[..len]), None, "{len}");
            }
            let text = token.as_bytes();
            for i in 0..text.len() {
                for bit in 0..8 {
                    let mut flipped = text.to_vec();
                    flipped[i] ^= 1 << bit;
                    if let Ok(flipped) = String::from_utf8(flipped) {
                        assert_eq!(keys.verify(&flipped), None, "{own} byte {i} bit {bit}");
                    }
                }
            }
        }
    }

    #[test]
    fn one_click_tokens_made_by_another_implementation_of_the_format_verify() {
        // Made with Python's hmac from the module doc's format (key [7; 32], kid k1, id bytes 0..16, expiry
        // 1795608000000): v3 with option 1, v4 with reviewer 2 and option 0. They pin the wire format.
        let keys = keys("k1", 7);
        let id = InterventionId::from_bytes(std::array::from_fn(|i| i as u8));
        let at = Timestamp::from_millis(1_795_608_000_000);
        let v3 = "v3.k1.AAECAwQFBgcICQoLDA0ODwAAAaISk7YAAaHydtYT2aKcPl3c80cdKyjinvqLFyGl8mpoSQHM1bWw";
        let v4 = "v4.k1.AAECAwQFBgcICQoLDA0ODwAAAaISk7YAAgBH3XqbM9UgDtBZ-qAUnYqPXFLYNQrYfCL35YJwXlLpog";
        assert_eq!(keys.sign_option(&id, at, None, 1), v3);
        assert_eq!(keys.sign_option(&id, at, Some(2), 0), v4);
        let link = |reviewer, option| Some(VerifiedLink { intervention_id: id, expires_at: at, reviewer, option });
        assert_eq!(keys.verify(v3), link(None, Some(1)));
        assert_eq!(keys.verify(v4), link(Some(2), Some(0)));
    }

    #[test]
    fn every_single_bit_flip_is_refused() {
        let (keys, _, _, token) = sample();
        let bytes = token.as_bytes();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.to_vec();
                flipped[i] ^= 1 << bit;
                if let Ok(text) = String::from_utf8(flipped) {
                    assert_eq!(keys.verify(&text), None, "byte {i} bit {bit}");
                }
            }
        }
    }

    #[test]
    fn truncations_and_prefixes_are_refused() {
        let (keys, _, _, token) = sample();
        for len in 0..token.len() {
            assert_eq!(keys.verify(&token[..len]), None, "{len}");
        }
        for text in [
            "",
            "v1.",
            "v1.k1.",
            "v1.k1",
            "v2.k1.x",
            "v3.k1.x",
            "v4.k1.x",
            "v5.k1.x",
            &format!("{token}."),
            &format!("{token}/"),
            &format!("{token}="),
        ] {
            assert_eq!(keys.verify(text), None, "{text}");
        }
        assert_eq!(keys.verify(&"a".repeat(100_000)), None);
    }

    #[test]
    fn non_canonical_spellings_are_refused() {
        let (keys, _, _, token) = sample();
        let body = token.rsplit('.').next().unwrap();
        let standard = body.replace('-', "+").replace('_', "/");
        if standard != body {
            assert_eq!(keys.verify(&format!("v1.k1.{standard}")), None);
        }
        assert_eq!(keys.verify(&format!("v1.k1.{body}=")), None);
        assert_eq!(keys.verify(&token.replace("v1", "V1")), None);
        assert_eq!(keys.verify(&token.replace(".k1.", ".K1.")), None);
        assert_eq!(keys.verify(&token.replace(".k1.", ".%6b1.")), None);
    }

    #[test]
    fn unknown_and_hostile_key_ids_are_refused() {
        let (keys, id, at, _) = sample();
        let other = self::keys("k2", 9).sign(&id, at);
        assert_eq!(keys.verify(&other), None);
        let (_, _, _, token) = sample();
        let body = token.rsplit('.').next().unwrap();
        for kid in ["../k1", "k1%00", "", "k1/"] {
            assert_eq!(keys.verify(&format!("v1.{kid}.{body}")), None, "{kid}");
        }
    }

    #[test]
    fn the_same_secret_under_another_kid_does_not_verify() {
        let (keys, id, at, _) = sample();
        let forged = self::keys("k9", 7).sign(&id, at).replace(".k9.", ".k1.");
        assert_eq!(keys.verify(&forged), None);
    }

    #[test]
    fn rotation_signs_with_the_new_key_and_verifies_old_links_until_removed() {
        let old = LinkKey::new("k1", vec![1; 32]).unwrap();
        let new = LinkKey::new("k2", vec![2; 32]).unwrap();
        let id = InterventionId::random().unwrap();
        let at = Timestamp::from_millis(1);
        let old_link = LinkKeys::new(old.clone(), vec![]).unwrap().sign(&id, at);
        let rotated = LinkKeys::new(new.clone(), vec![old]).unwrap();
        assert!(rotated.sign(&id, at).starts_with("v1.k2."));
        assert!(rotated.verify(&old_link).is_some());
        let retired = LinkKeys::new(new, vec![]).unwrap();
        assert_eq!(retired.verify(&old_link), None);
    }

    #[test]
    fn keys_parse_from_configuration() {
        let spec = format!(
            "k2:{},k1:{}",
            base64::engine::general_purpose::STANDARD.encode([2u8; 32]),
            URL_SAFE_NO_PAD.encode([1u8; 40])
        );
        let keys = LinkKeys::parse(&spec).unwrap();
        assert_eq!(keys.signing_kid(), "k2");
        assert!(LinkKeys::parse("k1:c2hvcnQ=").unwrap_err().contains("at least 32"));
        assert!(LinkKeys::parse("").is_err());
        assert!(LinkKeys::parse(&format!("K1:{}", URL_SAFE_NO_PAD.encode([1u8; 32]))).is_err());
        assert!(!format!("{keys:?}").contains("AgICAg"));
    }

    #[test]
    fn intervention_ids_have_one_spelling() {
        let id = InterventionId::random().unwrap();
        let text = id.to_string();
        assert_eq!(text.len(), 22);
        assert_eq!(InterventionId::parse(&text), Some(id));
        for bad in
            ["", "../../etc/passwd", "%2e%2e%2f", &format!("{text}="), &text[..21], &format!("{text}#"), "LINK#abc"]
        {
            assert_eq!(InterventionId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_mac_is_checked_with_verify_slice() {
        // Constant-time comparison is hmac's `verify_slice`; this guards against a switch to `==`.
        let source = include_str!("token.rs");
        let compare = ["verify", "_slice(&bytes"].concat();
        assert!(source.contains(&compare));
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_verify_or_panic(text in "\\PC{0,120}") {
            let (keys, _, _, _) = sample();
            prop_assert_eq!(keys.verify(&text), None);
        }

        #[test]
        fn one_click_links_verify_to_exactly_their_reviewer_and_option(
            reviewer in proptest::option::of(any::<u8>()),
            option in any::<u8>(),
            other in any::<u8>(),
        ) {
            let (keys, id, at, _) = sample();
            let token = keys.sign_option(&id, at, reviewer, option);
            prop_assert!(token.len() <= MAX_TOKEN_CHARS);
            let verified = keys.verify(&token);
            prop_assert_eq!(verified, Some(VerifiedLink { intervention_id: id, expires_at: at, reviewer, option: Some(option) }));
            let mut bytes = URL_SAFE_NO_PAD.decode(token.rsplit('.').next().unwrap()).unwrap();
            let option_at = ID_BYTES + 8 + usize::from(reviewer.is_some());
            bytes[option_at] ^= other.max(1);
            let changed = format!("{}.k1.{}", &token[..2], URL_SAFE_NO_PAD.encode(&bytes));
            prop_assert_eq!(keys.verify(&changed), None);
        }

        #[test]
        fn arbitrary_bodies_under_a_known_kid_never_verify(body in "[A-Za-z0-9_-]{75}") {
            let (keys, _, _, _) = sample();
            prop_assert_eq!(keys.verify(&format!("v1.k1.{body}")), None);
        }
    }
}
