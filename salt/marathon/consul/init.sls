include:
  - .registration
