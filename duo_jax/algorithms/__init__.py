"""Earlier import paths of the algorithms, kept working: the methods live in duo_jax/coordinators/."""
