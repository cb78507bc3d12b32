-- MLflow's stores start with the experiment "Default" at id 0; clients rely on it. The identity
-- sequence starts at 1, so the next experiment gets 1 as in SQLite.
INSERT INTO "experiments" ("experiment_id", "name", "artifact_location", "lifecycle_stage", "creation_time", "last_update_time")
VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active', (extract(epoch from clock_timestamp()) * 1000)::bigint, (extract(epoch from clock_timestamp()) * 1000)::bigint);
