"""The clouds, one package each, as SQLGlot has one dialect per SQL engine. Each package is a
provider: its module-level names implement `wiam.provider.Provider` (read that module for the
interface), and `wiam.registry` loads it by name when a command first needs it. Nothing is imported
here: a command that reads one cloud loads that cloud only."""
