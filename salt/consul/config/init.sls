include:
  - .file
  - .token
