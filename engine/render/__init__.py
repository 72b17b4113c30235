"""Lmk2Video renderers: landmark sequence -> frames."""
