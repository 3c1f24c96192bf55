from licensing.cli import main

main()
