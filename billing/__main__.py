from billing.cli import main

main()
