include:
  - .check
