"""Operating the pipeline: the local broker, the topic manifest, the process supervisor."""
