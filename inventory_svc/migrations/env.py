from mesh.migrate import run_env

run_env()
