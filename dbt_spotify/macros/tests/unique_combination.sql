{#- No two rows share the same values in `columns` (a composite key), like dbt_utils'
    unique_combination_of_columns, without the package download. -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
