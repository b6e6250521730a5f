include:
  - .package
