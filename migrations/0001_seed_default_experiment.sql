-- MLflow's stores start with the experiment "Default" at id 0; clients rely on it.
INSERT INTO `experiments` (`experiment_id`, `name`, `artifact_location`, `lifecycle_stage`, `creation_time`, `last_update_time`)
VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active', CAST(unixepoch('subsec') * 1000 AS INTEGER), CAST(unixepoch('subsec') * 1000 AS INTEGER));
