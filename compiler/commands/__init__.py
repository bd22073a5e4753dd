"""The commands of `wiam`, one module each: each parses its options and prints; the work is done
by the domain modules of wiam. wiam.cli assembles them into the command line."""
