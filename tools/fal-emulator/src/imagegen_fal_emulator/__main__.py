from imagegen_fal_emulator.cli import main

main()
