"""Developer tools: a local Kafka broker without Docker, the demo. Not part of the installed package."""
