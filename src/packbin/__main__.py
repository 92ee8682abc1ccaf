from packbin.cli import main

main()
