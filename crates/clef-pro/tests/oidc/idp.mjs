// A real OpenID Connect issuer for Clef Pro's tests: the certified `oidc-provider`, on a
// loopback port, with one confidential client. Sign-in is automatic for the address the relying
// party sends as `login_hint` (a test stands for the person typing their password); everything
// else (discovery, JWKS, the code flow with PKCE, signed ID tokens) is the library's own.
//
// Environment: CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, and optionally
//   GROUPS   JSON {"email": ["group", ...]} for the `groups` claim;
//   UNVERIFIED  an e-mail whose `email_verified` is false;
//   SIGN_IN_AS  an account signed in whatever the login_hint (someone else at the keyboard);
//   TAMPER   `signature` (one byte of the ID token's signature changed), `audience` (the ID
//            token re-signed with the provider's own key for another audience) or `expired`
//            (re-signed with an `exp` an hour ago): what a broken or hostile issuer sends.
// `GET /test/rotate` rotates the signing key: from then on ID tokens are signed with a new key,
// and the JWKS publishes only that one, as an issuer retiring its old key does.
// Prints `listening <issuer>` once it answers.

import Provider from "oidc-provider";
import * as jose from "jose";
import http from "node:http";

const env = process.env;
const groups = JSON.parse(env.GROUPS || "{}");

const server = http.createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

// A signing key of our own, so a tampered token can be re-signed exactly as the issuer signs.
const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), kid: "test-key-1", use: "sig", alg: "RS256" };

const provider = new Provider(issuer, {
  clients: [{
    client_id: env.CLIENT_ID,
    client_secret: env.CLIENT_SECRET,
    redirect_uris: [env.REDIRECT_URI],
    grant_types: ["authorization_code"],
    response_types: ["code"],
  }],
  jwks: { keys: [jwk] },
  // The e-mail scope carries the groups too, and scoped claims go into the ID token itself.
  claims: { openid: ["sub"], email: ["email", "email_verified", "groups"] },
  scopes: ["openid", "email"],
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: id !== env.UNVERIFIED, groups: groups[id] || [] };
      },
    };
  },
});

// Key rotation: a second key, published and used once the test asks.
const next = await jose.generateKeyPair("RS256", { extractable: true });
const nextJwk = { ...(await jose.exportJWK(next.publicKey)), kid: "test-key-2", use: "sig", alg: "RS256" };
let rotated = false;
provider.use(async (ctx, next_) => {
  if (ctx.path === "/test/rotate") {
    rotated = true;
    ctx.body = "rotated";
    return undefined;
  }
  await next_();
  if (rotated && ctx.path === "/jwks") ctx.body = { keys: [nextJwk] };
  if (rotated && ctx.path === "/token" && ctx.body && ctx.body.id_token) {
    const claims = jose.decodeJwt(ctx.body.id_token);
    const resigned = await new jose.SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: nextJwk.kid })
      .sign(next.privateKey);
    ctx.body = { ...ctx.body, id_token: resigned };
  }
  return undefined;
});

// The sign-in page: the person named by login_hint signs in and consents.
provider.use(async (ctx, next) => {
  if (!ctx.path.startsWith("/interaction/")) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const email = env.SIGN_IN_AS || details.params.login_hint;
  if (!email) {
    ctx.status = 400;
    ctx.body = "this test issuer signs in the login_hint only";
    return undefined;
  }
  const grant = new provider.Grant({ accountId: email, clientId: details.params.client_id });
  grant.addOIDCScope("openid email");
  const grantId = await grant.save();
  ctx.respond = false;
  return provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: email }, consent: { grantId } }, {
    mergeWithLastSubmission: false,
  });
});

// A broken or hostile issuer: the token response carries a doctored ID token.
provider.use(async (ctx, next) => {
  await next();
  if (!env.TAMPER || ctx.path !== "/token" || !ctx.body || !ctx.body.id_token) return;
  const token = ctx.body.id_token;
  if (env.TAMPER === "signature") {
    const [head, payload, sig] = token.split(".");
    const flipped = (sig[5] === "A" ? "B" : "A");
    ctx.body = { ...ctx.body, id_token: `${head}.${payload}.${sig.slice(0, 5)}${flipped}${sig.slice(6)}` };
    return;
  }
  const claims = jose.decodeJwt(token);
  if (env.TAMPER === "audience") claims.aud = "another-client";
  if (env.TAMPER === "expired") {
    claims.iat -= 7200;
    claims.exp = Math.floor(Date.now() / 1000) - 3600;
  }
  const resigned = await new jose.SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", kid: jwk.kid })
    .sign(privateKey);
  ctx.body = { ...ctx.body, id_token: resigned };
});

server.on("request", provider.callback());
console.log(`listening ${issuer}`);
