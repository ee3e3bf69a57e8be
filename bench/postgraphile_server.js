// PostGraphile v4 as a comparison target for bench/run.py: ONE node process, connected as
// upward_app (RLS applies), tenant set per request from the X-Tenant-Id header through pgSettings
// (PostGraphile runs `select set_config('app.tenant_id', $1, true)` in each request's transaction).
//
// env: PG_URL (required), PORT (default 5099), HOST (127.0.0.1), POOL_MAX (10)
// Installed by bench/run.py with: npm install --prefix bench/.node postgraphile@4
"use strict";

const path = require("path");
const http = require("http");

const modules = path.join(__dirname, ".node", "node_modules");
const { postgraphile } = require(path.join(modules, "postgraphile"));
const { Pool } = require(path.join(modules, "pg"));

const pgUrl = process.env.PG_URL;
if (!pgUrl) {
  console.error("PG_URL is required");
  process.exit(2);
}
const port = Number(process.env.PORT || 5099);
const host = process.env.HOST || "127.0.0.1";
const pool = new Pool({ connectionString: pgUrl, max: Number(process.env.POOL_MAX || 10) });

const middleware = postgraphile(pool, "public", {
  graphiql: false,
  watchPg: false,
  disableQueryLog: true,
  retryOnInitFail: false,
  disableDefaultMutations: true,
  setofFunctionsContainNulls: false,
  pgSettings: (req) => ({ "app.tenant_id": String(req.headers["x-tenant-id"] || "") }),
});

const server = http.createServer(middleware);
server.keepAliveTimeout = 65000;
server.listen(port, host, () => {
  console.error(`postgraphile listening on http://${host}:${port}/graphql`);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close();
  if (server.closeAllConnections) server.closeAllConnections();
  pool.end().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
