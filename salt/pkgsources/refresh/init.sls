include:
  - .db
