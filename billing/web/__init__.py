"""Server-rendered pages for fleet managers, HR and employees, on the same rules as the API."""
