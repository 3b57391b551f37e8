"""metta: PPO on the MettaGrid arena, with curricula and cost-to-threshold tracking."""
