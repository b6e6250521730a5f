include:
  - .imported
