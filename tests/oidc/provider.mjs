// OpenID Connect providers for the registry's sign-in tests, on the loopback interface.
//
// MODE=real (default): the certified `oidc-provider` package. Accounts come from the JSON file
// ACCOUNTS_FILE ({login: {email, name, groups}}), read again on every sign-in so that a test can
// change a user's groups at the provider. The login page is a plain form (field `login`);
// consent is granted on sign-in.
//
// MODE=forge: a tiny provider that answers discovery, JWKS, authorize and token like a real one
// but issues ID tokens with the fault set by `POST /control` ({"fault": "wrong_audience" |
// "bad_signature" | "expired" | "none"}), for the tests that the app refuses them.
//
// Settings: PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_REDIRECT_URI, and for
// the private_key_jwt client JWT_CLIENT_ID and JWT_CLIENT_JWKS.
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import { URL } from "node:url";

import * as jose from "jose";
import Provider from "oidc-provider";

const PORT = Number(process.env.PORT || 0);
const ISSUER = `http://127.0.0.1:${PORT}`;
const CLIENT_ID = process.env.CLIENT_ID || "registry";
const CLIENT_SECRET = process.env.CLIENT_SECRET || "registry-secret";
const REDIRECT_URI = process.env.REDIRECT_URI;
const POST_LOGOUT = process.env.POST_LOGOUT_REDIRECT_URI;
const MODE = process.env.MODE || "real";
// A second client that authenticates at the token endpoint with private_key_jwt (as Login.gov
// requires): its id, and its public keys as a JSON Web Key Set.
const JWT_CLIENT_ID = process.env.JWT_CLIENT_ID;
const JWT_CLIENT_JWKS = process.env.JWT_CLIENT_JWKS;

function accounts() {
  return JSON.parse(readFileSync(process.env.ACCOUNTS_FILE, "utf8"));
}

function readBody(req) {
  return new Promise((resolve) => {
    let data = "";
    req.on("data", (chunk) => (data += chunk));
    req.on("end", () => resolve(data));
  });
}

function escape(text) {
  return String(text).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function real() {
  const provider = new Provider(ISSUER, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [REDIRECT_URI],
        post_logout_redirect_uris: POST_LOGOUT ? [POST_LOGOUT] : [],
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
      ...(JWT_CLIENT_ID
        ? [
            {
              client_id: JWT_CLIENT_ID,
              token_endpoint_auth_method: "private_key_jwt",
              token_endpoint_auth_signing_alg: "RS256",
              jwks: JSON.parse(JWT_CLIENT_JWKS),
              redirect_uris: [REDIRECT_URI],
              post_logout_redirect_uris: POST_LOGOUT ? [POST_LOGOUT] : [],
              grant_types: ["authorization_code"],
              response_types: ["code"],
            },
          ]
        : []),
    ],
    pkce: { required: () => true, methods: ["S256"] },
    scopes: ["openid", "email", "profile", "groups"],
    claims: { openid: ["sub"], email: ["email"], profile: ["name"], groups: ["groups"] },
    // The claims go into the ID token itself, which the registry verifies.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    cookies: { keys: [randomBytes(16).toString("hex")] },
    async findAccount(_ctx, id) {
      const account = accounts()[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: account.email, name: account.name, groups: account.groups };
        },
      };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  });
  provider.proxy = false;
  const callback = provider.callback();
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, ISSUER);
    const match = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
    if (!match) return callback(req, res);
    try {
      const details = await provider.interactionDetails(req, res);
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        return res.end(
          `<!doctype html><html lang="en"><title>Test provider sign-in</title>` +
            `<h1>Test provider</h1><form method="post" action="/interaction/${escape(details.uid)}/login">` +
            `<label for="login">User name</label><input id="login" name="login">` +
            `<button type="submit">Sign in</button></form></html>`,
        );
      }
      const form = new URLSearchParams(await readBody(req));
      const login = form.get("login") || "";
      if (!accounts()[login]) {
        return provider.interactionFinished(req, res, {
          error: "access_denied",
          error_description: "unknown user",
        });
      }
      const grant = new provider.Grant({ accountId: login, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      const grantId = await grant.save();
      return provider.interactionFinished(
        req,
        res,
        { login: { accountId: login }, consent: { grantId } },
        { mergeWithLastSubmission: false },
      );
    } catch (error) {
      res.writeHead(400, { "content-type": "text/plain" });
      return res.end(String(error));
    }
  });
  return server;
}

async function forge() {
  const good = await jose.generateKeyPair("RS256", { extractable: true });
  const wrong = await jose.generateKeyPair("RS256", { extractable: true });
  const publicJwk = { ...(await jose.exportJWK(good.publicKey)), kid: "good", alg: "RS256", use: "sig" };
  const codes = new Map();
  let fault = "none";
  const json = (res, status, body) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  return http.createServer(async (req, res) => {
    const url = new URL(req.url, ISSUER);
    if (url.pathname === "/.well-known/openid-configuration") {
      return json(res, 200, {
        issuer: ISSUER,
        authorization_endpoint: `${ISSUER}/auth`,
        token_endpoint: `${ISSUER}/token`,
        jwks_uri: `${ISSUER}/jwks`,
        response_types_supported: ["code"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      });
    }
    if (url.pathname === "/jwks") return json(res, 200, { keys: [publicJwk] });
    if (url.pathname === "/control" && req.method === "POST") {
      fault = JSON.parse(await readBody(req)).fault;
      return json(res, 200, { fault });
    }
    if (url.pathname === "/auth") {
      const code = randomUUID();
      codes.set(code, { nonce: url.searchParams.get("nonce"), login: url.searchParams.get("login_hint") || "alice" });
      const back = new URL(url.searchParams.get("redirect_uri"));
      back.searchParams.set("code", code);
      back.searchParams.set("state", url.searchParams.get("state"));
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (url.pathname === "/token" && req.method === "POST") {
      const form = new URLSearchParams(await readBody(req));
      const grant = codes.get(form.get("code"));
      codes.delete(form.get("code"));
      if (!grant) return json(res, 400, { error: "invalid_grant" });
      const account = accounts()[grant.login];
      const now = Math.floor(Date.now() / 1000);
      const expired = fault === "expired";
      const token = await new jose.SignJWT({
        nonce: grant.nonce,
        email: account.email,
        name: account.name,
        groups: account.groups,
        ...(fault === "wrong_audience" ? { azp: "someone-else" } : {}),
      })
        .setProtectedHeader({ alg: "RS256", kid: "good" })
        .setIssuer(ISSUER)
        .setSubject(grant.login)
        .setAudience(fault === "wrong_audience" ? "someone-else" : CLIENT_ID)
        .setIssuedAt(expired ? now - 7200 : now)
        .setExpirationTime(expired ? now - 3600 : now + 600)
        .sign(fault === "bad_signature" ? wrong.privateKey : good.privateKey);
      return json(res, 200, {
        access_token: randomUUID(),
        token_type: "Bearer",
        expires_in: 600,
        id_token: token,
      });
    }
    res.writeHead(404);
    res.end();
  });
}

const server = MODE === "forge" ? await forge() : await real();
server.listen(PORT, "127.0.0.1", () => {
  // The fixture waits for this line.
  console.log(`listening ${ISSUER}`);
});
