/**
 * How to reach Postgres: a connection string (local, or any host with a password), or RDS IAM
 * authentication (through RDS Proxy in the deployed stack: no password anywhere in the environment).
 */
export type DatabaseConnection =
  | { kind: 'url'; url: string }
  | { kind: 'iam'; host: string; port: number; database: string; user: string; region: string };
