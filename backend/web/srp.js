// The client half of Cognito's SRP-6a (USER_SRP_AUTH), as Cognito's own web clients compute
// it, so the password never leaves the browser: BigInt for the group arithmetic, WebCrypto
// for SHA-256 and HMAC-SHA256 (Cognito's key derivation is HKDF written with HMAC).

const N_HEX =
  "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";
const N = BigInt("0x" + N_HEX);
const G = 2n;
const encoder = new TextEncoder();

/** `padHex` of Cognito's clients: even length, and "00" before a leading high nibble (a
 * positive number's two's-complement bytes). */
export function padHex(n) {
  let h = n.toString(16);
  if (h.length % 2 === 1) h = "0" + h;
  else if ("89abcdef".includes(h[0])) h = "00" + h;
  return h;
}

function hexToBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function bytesToHex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

async function hmac(key, data) {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}

/** SHA-256 of the bytes a hex string spells, as a BigInt. */
async function hashHex(hex) {
  return BigInt("0x" + bytesToHex(await sha256(hexToBytes(hex))));
}

function modPow(base, exp, mod) {
  let result = 1n;
  base %= mod;
  while (exp > 0n) {
    if (exp & 1n) result = (result * base) % mod;
    base = (base * base) % mod;
    exp >>= 1n;
  }
  return result;
}

function bytesToBigInt(bytes) {
  return BigInt("0x" + (bytesToHex(bytes) || "0"));
}

/** A fresh ephemeral secret `a` and public `A = g^a mod N` (`A mod N` is never 0). */
export function newEphemeral() {
  for (;;) {
    const a = bytesToBigInt(crypto.getRandomValues(new Uint8Array(128)));
    const A = modPow(G, a, N);
    if (A % N !== 0n) return { a, A };
  }
}

/** The public value as `SRP_A` carries it. */
export function publicHex(A) {
  return A.toString(16);
}

/** Cognito's TIMESTAMP: "Tue Dec 2 09:05:07 UTC 2026" (UTC, day of month not padded). */
export function cognitoTimestamp(date = new Date()) {
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const two = (n) => String(n).padStart(2, "0");
  const time = `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
  return `${days[date.getUTCDay()]} ${months[date.getUTCMonth()]} ${date.getUTCDate()} ${time} UTC ${date.getUTCFullYear()}`;
}

function base64ToBytes(b64) {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function bytesToBase64(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

/**
 * PASSWORD_CLAIM_SIGNATURE (base64) for the PASSWORD_VERIFIER challenge.
 * poolName: the part of the pool id after "_"; userId: USER_ID_FOR_SRP; saltHex, bHex: SALT
 * and SRP_B; secretBlock: SECRET_BLOCK (base64); a, A: from newEphemeral().
 */
export async function passwordSignature({ a, A, poolName, userId, password, saltHex, bHex, secretBlock, timestamp }) {
  const B = BigInt("0x" + bHex);
  if (B % N === 0n) throw new Error("invalid SRP_B");
  const k = await hashHex(padHex(N) + padHex(G));
  const u = await hashHex(padHex(A) + padHex(B));
  if (u === 0n) throw new Error("invalid SRP_B");
  const userPass = bytesToHex(await sha256(encoder.encode(`${poolName}${userId}:${password}`)));
  const x = await hashHex(padHex(BigInt("0x" + saltHex)) + userPass);
  const base = (((B - k * modPow(G, x, N)) % N) + N) % N;
  const S = modPow(base, a + u * x, N);
  // HKDF: extract with pad(u) as the salt, then one expand block ("Caldera Derived Key" ‖ 0x01).
  const prk = await hmac(hexToBytes(padHex(u)), hexToBytes(padHex(S)));
  const okm = await hmac(prk, concat(encoder.encode("Caldera Derived Key"), new Uint8Array([1])));
  const key = okm.slice(0, 16);
  const message = concat(
    encoder.encode(poolName),
    encoder.encode(userId),
    base64ToBytes(secretBlock),
    encoder.encode(timestamp),
  );
  return bytesToBase64(await hmac(key, message));
}

/** For tests: the signature from a fixed secret `a` given as hex. */
export async function signatureFromSecretHex(aHex, params) {
  const a = BigInt("0x" + aHex);
  return passwordSignature({ ...params, a, A: modPow(G, a, N) });
}
