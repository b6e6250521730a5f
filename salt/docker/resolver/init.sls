include:
  - .bridge
