"""The JSON Schema of the wiam spec (wiam.schema.json), shipped with the package."""
