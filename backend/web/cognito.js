// Cognito's user-pool JSON API, called directly as AWS's own web clients do (no signing: these
// operations are public): sign-up and confirmation, USER_SRP_AUTH login, refresh and sign-out.
// Tokens live in sessionStorage, so a reload keeps the session and closing the tab ends it.

import { cognitoTimestamp, newEphemeral, passwordSignature, publicHex } from "./srp.js";

const STORAGE_KEY = "chat.tokens";
/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 60_000;

export class CognitoError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

/** The claims of a JWT (not verified: the servers verify; the client only reads). */
export function claims(jwt) {
  const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const text = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
  return JSON.parse(text);
}

export class Cognito {
  /** config: config.json's contents. */
  constructor(config) {
    this.endpoint = config.cognitoEndpoint || `https://cognito-idp.${config.region}.amazonaws.com/`;
    this.poolId = config.outputs.UserPoolId;
    this.clientId = config.outputs.UserPoolClientId;
    this.tokens = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    this.refreshing = null;
    this.timer = null;
    /** Called with no argument when the session ends (sign-out, or a refresh that failed). */
    this.onSignedOut = () => {};
  }

  async call(operation, body) {
    const response = await fetch(this.endpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityProviderService.${operation}`,
      },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const code = String(data.__type || response.status).split("#").pop();
      throw new CognitoError(code, data.message || data.Message);
    }
    return data;
  }

  signUp(username, email, password) {
    return this.call("SignUp", {
      ClientId: this.clientId,
      Username: username,
      Password: password,
      UserAttributes: [{ Name: "email", Value: email }],
    });
  }

  confirmSignUp(username, code) {
    return this.call("ConfirmSignUp", { ClientId: this.clientId, Username: username, ConfirmationCode: code });
  }

  resendCode(username) {
    return this.call("ResendConfirmationCode", { ClientId: this.clientId, Username: username });
  }

  /** USER_SRP_AUTH: InitiateAuth with SRP_A, then the PASSWORD_VERIFIER answer. */
  async login(username, password) {
    const { a, A } = newEphemeral();
    const start = await this.call("InitiateAuth", {
      ClientId: this.clientId,
      AuthFlow: "USER_SRP_AUTH",
      AuthParameters: { USERNAME: username, SRP_A: publicHex(A) },
    });
    if (start.ChallengeName !== "PASSWORD_VERIFIER") {
      throw new CognitoError("UnsupportedChallenge", `unsupported challenge ${start.ChallengeName}`);
    }
    const p = start.ChallengeParameters;
    const timestamp = cognitoTimestamp();
    const signature = await passwordSignature({
      a,
      A,
      poolName: this.poolId.split("_")[1],
      userId: p.USER_ID_FOR_SRP,
      password,
      saltHex: p.SALT,
      bHex: p.SRP_B,
      secretBlock: p.SECRET_BLOCK,
      timestamp,
    });
    const done = await this.call("RespondToAuthChallenge", {
      ClientId: this.clientId,
      ChallengeName: "PASSWORD_VERIFIER",
      ChallengeResponses: {
        USERNAME: p.USER_ID_FOR_SRP,
        PASSWORD_CLAIM_SECRET_BLOCK: p.SECRET_BLOCK,
        PASSWORD_CLAIM_SIGNATURE: signature,
        TIMESTAMP: timestamp,
      },
    });
    if (!done.AuthenticationResult) {
      throw new CognitoError("UnsupportedChallenge", `unsupported challenge ${done.ChallengeName}`);
    }
    this.store(done.AuthenticationResult);
  }

  store(result) {
    this.tokens = {
      accessToken: result.AccessToken,
      idToken: result.IdToken,
      refreshToken: result.RefreshToken || this.tokens?.refreshToken,
      expiresAt: claims(result.AccessToken).exp * 1000,
    };
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.tokens));
    this.schedule();
  }

  get signedIn() {
    return Boolean(this.tokens?.refreshToken);
  }

  /** Refreshes a little before expiry, whether or not anything is being called. */
  schedule() {
    clearTimeout(this.timer);
    if (!this.tokens) return;
    const wait = Math.max(0, this.tokens.expiresAt - REFRESH_MARGIN_MS - Date.now());
    this.timer = setTimeout(() => this.refresh().catch(() => {}), Math.min(wait, 2 ** 31 - 1));
  }

  async refresh() {
    if (!this.refreshing) {
      this.refreshing = this.call("InitiateAuth", {
        ClientId: this.clientId,
        AuthFlow: "REFRESH_TOKEN_AUTH",
        AuthParameters: { REFRESH_TOKEN: this.tokens.refreshToken },
      })
        .then((r) => this.store(r.AuthenticationResult))
        .catch((e) => {
          if (e instanceof CognitoError && e.code === "NotAuthorizedException") this.forget();
          throw e;
        })
        .finally(() => (this.refreshing = null));
    }
    return this.refreshing;
  }

  /** Current tokens, refreshed first when they are about to expire. */
  async fresh() {
    if (!this.tokens) throw new CognitoError("NotAuthorizedException", "signed out");
    if (Date.now() > this.tokens.expiresAt - REFRESH_MARGIN_MS) await this.refresh();
    return this.tokens;
  }

  /** GlobalSignOut (every device's refresh token stops working), then forget the tokens. */
  async signOut() {
    try {
      if (this.tokens) await this.call("GlobalSignOut", { AccessToken: this.tokens.accessToken });
    } finally {
      this.forget();
    }
  }

  forget() {
    clearTimeout(this.timer);
    this.tokens = null;
    sessionStorage.removeItem(STORAGE_KEY);
    this.onSignedOut();
  }
}
