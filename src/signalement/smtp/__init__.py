"""Reports by mail: the SMTP server of the report addresses and the feedback loops' intake addresses."""
