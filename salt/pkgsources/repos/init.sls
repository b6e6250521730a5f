include:
  - .managed
