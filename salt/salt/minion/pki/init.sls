include:
  - .keys
