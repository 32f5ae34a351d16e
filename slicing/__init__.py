"""Meshes to G-code: mesh intake and checks, slicer engines, G-code analysis, previews."""
