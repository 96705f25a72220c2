"""Media I/O: decoding and validating user files (images, audio, video) into arrays the pipelines use."""
