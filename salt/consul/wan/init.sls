include:
  - .joined
