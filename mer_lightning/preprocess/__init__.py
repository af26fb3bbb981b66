"""From a clip's files to model inputs: small steps composed into a cached pipeline."""
