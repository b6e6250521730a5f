include:
  - .timer
