include:
  - .file
  - .join
  - .token
