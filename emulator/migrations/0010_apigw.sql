-- API Gateway: HTTP, REST and WebSocket APIs (routes, integrations, authorizers, CORS as one
-- JSON definition each). Live WebSocket connections are sockets, not state: a restart drops them.
CREATE TABLE apigw_apis (
    api_id     TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    protocol   TEXT NOT NULL,                       -- HTTP | REST | WEBSOCKET
    definition TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE UNIQUE INDEX apigw_apis_name ON apigw_apis (name, protocol);
