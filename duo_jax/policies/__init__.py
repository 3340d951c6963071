"""Earlier import paths of the policies, kept working: the methods live in duo_jax/coordinators/."""
