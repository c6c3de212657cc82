-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d).
-- Same role and databases as scripts/infra creates for local runs: one database per service.
CREATE ROLE oms LOGIN CREATEDB PASSWORD 'oms';
CREATE DATABASE oms_order OWNER oms;
CREATE DATABASE oms_inventory OWNER oms;
CREATE DATABASE oms_notify OWNER oms;
CREATE DATABASE oms_payment OWNER oms;
