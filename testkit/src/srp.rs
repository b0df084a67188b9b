//! The client half of Cognito's SRP-6a (`USER_SRP_AUTH`), and a login that runs the whole
//! exchange through the SDK client.

use hmac::{Hmac, Mac};
use num_bigint::BigUint;
use sha2::{Digest, Sha256};

const N_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";

/// `padHex` of the client libraries, as text: even length, and "00" before a high nibble.
fn pad_hex(n: &BigUint) -> String {
    let mut h = n.to_str_radix(16);
    if h.len() % 2 == 1 {
        h.insert(0, '0');
    } else if "89abcdef".contains(&h[..1]) {
        h.insert_str(0, "00");
    }
    h
}

fn hex_hash(hex_text: &str) -> String {
    hex::encode(Sha256::digest(hex::decode(hex_text).unwrap()))
}

pub struct Client {
    n: BigUint,
    g: BigUint,
    a: BigUint,
    pub big_a: BigUint,
}

impl Client {
    pub fn new(secret: &[u8]) -> Self {
        let n = BigUint::parse_bytes(N_HEX.as_bytes(), 16).unwrap();
        let g = BigUint::from(2u32);
        let a = BigUint::from_bytes_be(secret);
        let big_a = g.modpow(&a, &n);
        Client { n, g, a, big_a }
    }

    pub fn a_hex(&self) -> String {
        self.big_a.to_str_radix(16)
    }

    /// PASSWORD_CLAIM_SIGNATURE for the challenge parameters (`SALT`, `SRP_B`, the decoded
    /// `SECRET_BLOCK`) and the client's timestamp.
    pub fn signature(
        &self,
        pool: &str,
        user: &str,
        password: &str,
        challenge: (&str, &str, &[u8]),
        ts: &str,
    ) -> Vec<u8> {
        let (salt, b_hex, block) = challenge;
        let big_b = BigUint::parse_bytes(b_hex.as_bytes(), 16).unwrap();
        let k = BigUint::parse_bytes(hex_hash(&format!("{}{}", pad_hex(&self.n), pad_hex(&self.g))).as_bytes(), 16)
            .unwrap();
        let u = BigUint::parse_bytes(hex_hash(&format!("{}{}", pad_hex(&self.big_a), pad_hex(&big_b))).as_bytes(), 16)
            .unwrap();
        let user_pass = hex::encode(Sha256::digest(format!("{pool}{user}:{password}")));
        let salt = BigUint::parse_bytes(salt.as_bytes(), 16).unwrap();
        let x = BigUint::parse_bytes(hex_hash(&format!("{}{}", pad_hex(&salt), user_pass)).as_bytes(), 16).unwrap();
        let g_mod_pow_xn = self.g.modpow(&x, &self.n);
        let int_value2 = (&big_b + &k * &self.n - &k * g_mod_pow_xn) % &self.n;
        let s = int_value2.modpow(&(&self.a + &u * &x), &self.n);
        // HKDF by hand: extract with pad(u) as salt, one expand block of "Caldera Derived Key" ‖ 0x01.
        let mut prk = Hmac::<Sha256>::new_from_slice(&hex::decode(pad_hex(&u)).unwrap()).unwrap();
        prk.update(&hex::decode(pad_hex(&s)).unwrap());
        let prk = prk.finalize().into_bytes();
        let mut okm = Hmac::<Sha256>::new_from_slice(&prk).unwrap();
        okm.update(b"Caldera Derived Key\x01");
        let key = &okm.finalize().into_bytes()[..16];
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(pool.as_bytes());
        mac.update(user.as_bytes());
        mac.update(block);
        mac.update(ts.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// Runs `USER_SRP_AUTH` for `username`; the authentication result (tokens) or the error code.
pub async fn login(
    idp: &aws_sdk_cognitoidentityprovider::Client,
    pool_id: &str,
    client_id: &str,
    username: &str,
    password: &str,
) -> Result<aws_sdk_cognitoidentityprovider::types::AuthenticationResultType, String> {
    use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata;
    use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ChallengeNameType};
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let code = |e: &dyn ProvideErrorMetadata| e.code().unwrap_or("unknown").to_string();
    let mut secret = [0u8; 32];
    secret[..username.len().min(32)].copy_from_slice(&username.as_bytes()[..username.len().min(32)]);
    secret[31] |= 1;
    let client = Client::new(&secret);
    let start = idp
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("SRP_A", client.a_hex())
        .send()
        .await
        .map_err(|e| code(&e))?;
    let p = start.challenge_parameters.unwrap_or_default();
    let (Some(user_id), Some(block), Some(salt), Some(b)) =
        (p.get("USER_ID_FOR_SRP"), p.get("SECRET_BLOCK"), p.get("SALT"), p.get("SRP_B"))
    else {
        return Err("no PASSWORD_VERIFIER challenge".into());
    };
    let ts = "Tue Nov 24 01:20:00 UTC 2026";
    let pool_name = pool_id.split_once('_').map(|(_, n)| n).unwrap_or(pool_id);
    let raw_block = STANDARD.decode(block).map_err(|e| e.to_string())?;
    let sig = client.signature(pool_name, user_id, password, (salt, b, &raw_block), ts);
    let out = idp
        .respond_to_auth_challenge()
        .client_id(client_id)
        .challenge_name(ChallengeNameType::PasswordVerifier)
        .challenge_responses("USERNAME", user_id)
        .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", block)
        .challenge_responses("PASSWORD_CLAIM_SIGNATURE", STANDARD.encode(sig))
        .challenge_responses("TIMESTAMP", ts)
        .send()
        .await
        .map_err(|e| code(&e))?;
    out.authentication_result.ok_or_else(|| "no tokens".into())
}
